"""A CDK app (Python) deploying a layer built by lambdalayer, and a function using it.

    lambdalayer build deps -r requirements.txt --runtime python3.12 --arch x86_64
    cdk deploy

The asset hash CDK computes is a hash of the zip's bytes. lambdalayer's zips are
byte-identical for the same inputs on any machine and in any directory, so CDK
uploads and redeploys the layer only when its contents change.
"""

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

app = cdk.App()
stack = cdk.Stack(app, "LayerStack")

layer = lambda_.LayerVersion(
    stack, "DepsLayer",
    code=lambda_.Code.from_asset("dist/deps.zip"),
    compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
    compatible_architectures=[lambda_.Architecture.X86_64],
    description="built by lambdalayer from requirements.txt",
)

lambda_.Function(
    stack, "Hello",
    runtime=lambda_.Runtime.PYTHON_3_12,
    architecture=lambda_.Architecture.X86_64,
    handler="index.handler",
    code=lambda_.Code.from_inline(
        "import pg8000\n"
        "def handler(event, context):\n"
        "    return {'pg8000': pg8000.__version__}\n"),
    layers=[layer],
)

app.synth()
