"""NXCloud transport: request signing and the batch_create client."""
