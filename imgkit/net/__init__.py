"""The wire, below every stage: each exchange with a server goes through here.

``transport`` is the asynchronous wire (httpx over aiohttp) with its deadlines and answer
cap (``Sender``); ``blocking`` the same rules for synchronous transports (``send_sync``,
``upload_one``'s ``SyncWire``); ``bridge`` lends a run's asynchronous transport to
synchronous code (validation's downloads).  It imports no stage.
"""
