"""The phone's own state machine and dial plan (sans-IO; see ``machine`` and ``dialplan``)."""
