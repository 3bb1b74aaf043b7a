"""The domain: operations shared by the chat, the console and the scheduler.

Service functions take a SQLAlchemy Session and never commit: the caller owns the
transaction. Nothing here imports flask, wechatpy or apscheduler.
"""
