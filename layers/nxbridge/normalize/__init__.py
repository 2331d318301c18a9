"""Customer values made right for NXCloud, whatever sent them: phones, dates, countries and text SQS accepts.

Nothing here knows where a value came from. ``policy`` is the per-endpoint choice (phone strictness, the form of
``sms_phone`` and ``country``, the default region); ``customer`` applies it to one customer's NXCloud fields.
The submodules are imported by name, not from here: the drain needs ``sqs_text`` and ``dates`` only, and must not
pay for the phone library's import.
"""
