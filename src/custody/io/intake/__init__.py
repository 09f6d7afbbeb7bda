"""The witness intake's adapters: the ASGI app (web, the only place with HTTP), the
state folder (store), and the built upload page (page/)."""
