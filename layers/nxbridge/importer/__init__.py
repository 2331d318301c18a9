"""``nxbridge import``: the customers of an export file, each through the webhooks' own path into CustomersQueue.

- ``formats``: what a record and a reader are; ``shopify`` (the admin's CSV export, a bulk operation's JSONL),
  ``woocommerce`` (REST API pages), ``generic`` (any CSV, by a mapping or common column names);
- ``streams``: the file's identity (SHA-256), its text (UTF-8 with or without BOM), JSON arrays read window by window;
- ``delivery``: a record as the webhook request of its endpoint's kind (headers, topic, event time);
- ``importer``: ``Importer``, which sends batches of ten and journals each (``progress``) and writes the refused
  records to a rejects file (``rejects``);
- ``target``: the queue and the endpoint, from a stack's outputs, flags or the environment; ``cli``: the command.

Nothing here is loaded by the Lambda functions; the progress bar's tqdm is an operator-only dependency.
"""
