"""The delivery worker process: main.py (its entry, `python -m bot worker`), loop.py
(claim due outbox rows, send with bounded concurrency, record) and send_rate.py (one send
rate across all workers). What a row's outcome means is services/delivery.py; every status
write is services/outbox.py."""
