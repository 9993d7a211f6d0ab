"""Incident metrics: what they mean (`definitions`), how they are computed from the stored
facts of each incident (`facts`), kept as daily rollups (`rollups`) and answered for a report
(`provider`, registered with the metrics engine)."""
