"""Activity policies over the enterprise event stream: rule configs, their evaluation and state."""
