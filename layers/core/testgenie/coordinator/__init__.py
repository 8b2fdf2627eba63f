"""The durable coordinator: one execution as a Lambda durable function (docs/architecture.md)."""
