"""A 4x3 key matrix behind gpiozero mock pins, for the pi backend's tests.

A pressed key joins its row wire to its column wire.  The rows are outputs,
the columns inputs with pull-ups: a column reads the level of a row driven low
that it is joined to — through one key, or through several, which is how a
diode-less matrix makes ghost keys — else its pull-up's high.  The columns are
re-evaluated whenever a row pin changes or a key is pressed or released, so
they are always current when the keypad reads them.
"""

from __future__ import annotations

from gpiozero.pins.mock import MockFactory, MockPin

from phoneagent.hal.profiles import BoardProfile


class KeypadMatrix:
    """The wires of a diode-less key matrix behind gpiozero mock pins.

    Rows are open-drain (a diode in each row line, see hw/README.md): a row
    driven low pulls down everything joined to it through held keys, a row
    driven high drives nothing.  A column reads low when joined to a low row,
    else its pull-up's high.
    """

    def __init__(self, profile: BoardProfile) -> None:
        assert profile.keypad is not None
        self.rows = profile.keypad.rows
        self.columns = profile.keypad.columns
        self.keymap = profile.keypad.keymap
        self.held: set[tuple[int, int]] = set()
        self.pins: dict[int, MockPin] = {}
        self.row_changes = 0

    def pin_class(self) -> type[MockPin]:
        matrix = self

        class MatrixPin(MockPin):
            def __init__(self, factory: MockFactory, info: object) -> None:
                super().__init__(factory, info)
                matrix.pins[int(self.info.name.removeprefix("GPIO"))] = self

            def _change_state(self, value: bool) -> bool:
                changed = super()._change_state(value)
                if changed and self in matrix.row_pins():
                    matrix.row_changes += 1
                    matrix.update()  # a row moved: the columns follow at once
                return changed

            def _set_function(self, value: str) -> None:
                super()._set_function(value)
                matrix.update()

        return MatrixPin

    def row_pins(self) -> list[MockPin]:
        return [self.pins[pin] for pin in self.rows if pin in self.pins]

    def press(self, key: str) -> None:
        self.held.add(self._position(key))
        self.update()

    def release(self, key: str) -> None:
        self.held.discard(self._position(key))
        self.update()

    def _position(self, key: str) -> tuple[int, int]:
        for row, keys in enumerate(self.keymap):
            if key in keys:
                return row, keys.index(key)
        raise ValueError(key)

    def update(self) -> None:
        # Which rows and columns are joined by held keys (union-find; columns are -1 - c).
        parent: dict[int, int] = {}

        def root(node: int) -> int:
            while parent.get(node, node) != node:
                node = parent[node]
            return node

        for row, column in self.held:
            parent[root(row)] = root(-1 - column)
        low_groups = set()
        for row, pin_number in enumerate(self.rows):
            pin = self.pins.get(pin_number)
            if pin is not None and pin.function == "output" and not pin.state:
                low_groups.add(root(row))
        for column, pin_number in enumerate(self.columns):
            pin = self.pins.get(pin_number)
            if pin is None or pin.function != "input":
                continue
            if root(-1 - column) in low_groups:
                pin.drive_low()
            elif pin.pull == "up":
                pin.drive_high()
