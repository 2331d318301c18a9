"""AWS plumbing: clients with explicit timeouts and attempts per use (``clients``), one retry policy (``retry``), and
SQS's limits, chunked batch calls that retry only failed entries, and queue counts (``sqs``).

Nothing here knows a business rule; callers say what an entry is and what to do with the entries that failed.
"""
