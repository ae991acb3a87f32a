"""gclog: record how notebooks are used and ship the records to AWS Firehose."""

__version__ = "0.1.0"
