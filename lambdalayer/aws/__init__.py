"""Everything that talks to AWS: the client seam, publish, attach, versions/prune, functions.

Modules here import boto3/botocore only inside functions, so importing the CLI
(`lambdalayer --help`) never pays boto3's start-up cost (~253 ms: docs/lambda-facts.md).
Core functions take clients (or a client factory), return frozen dataclasses
and never print.
"""
