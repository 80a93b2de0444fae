"""Socket.io gateways of the real-time node: residents and staff (``/``), merchants (``/merchant``)."""
