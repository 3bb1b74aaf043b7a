"""Chat logic, free of Flask: an inbound message in, a reply text (or nothing) out."""
