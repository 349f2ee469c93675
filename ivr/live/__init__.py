"""What is happening on the line right now: calls in the flows, callers waiting in
queues, agents' phones (``board``), and today's figures from the records (``today``)."""
