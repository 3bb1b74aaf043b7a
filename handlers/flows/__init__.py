"""One module per chat flow, each declaring its Form at the top; the router wires them."""
