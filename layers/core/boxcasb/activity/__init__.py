"""Enterprise activity: the event model, its classification, backfill and continuous ingestion."""
