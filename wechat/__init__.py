"""WeChat itself, without Flask: the protocol edge (protocol.py: signatures, the AES
envelope, parsing, replies), the API client (api.py) with its shared token (token_store.py),
and a peer that plays WeChat's side of the protocol for the simulator and `chat` (peer.py).
The web process, the delivery worker and the CLI all use it; it never imports flask."""
