"""A function whose dependencies come from the layer built by the Makefile."""

import orjson
import pg8000


def handler(event, context):
    return {"statusCode": 200,
            "body": orjson.dumps({"pg8000": pg8000.__version__}).decode()}
