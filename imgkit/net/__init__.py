"""The wire, below every stage: each exchange with a server goes through here.

``transport`` is the asynchronous wire's front (``Sender``: httpx's models, deadlines and
the answer cap) over ``wire`` and ``connection``, imgkit's own HTTP/1.1 transport;
``answers`` what they share; ``blocking`` the same rules for synchronous transports (``send_sync``,
``upload_one``'s ``SyncWire``); ``bridge`` lends a run's asynchronous transport to
synchronous code (validation's downloads).  It imports no stage.
"""
