"""The hardware abstraction layer: every device behind an interface, real or mocked."""
