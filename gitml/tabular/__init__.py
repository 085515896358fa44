"""Table-aware data: profile, checks, row-level diffs and drift for Parquet and CSV.

Every module here imports pyarrow inside its functions or is imported only by the
``gitml data`` / ``gitml monitor`` commands, so ``gitml status`` never pays for it.
``meta`` (pointer metadata) is the exception that ``gitml add`` uses for Parquet files.
"""
