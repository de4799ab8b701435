"""CloudFormation custom resources for what CloudFormation cannot declare natively.

There is no CloudFormation type for a Chime SDK SIP media application, and the default prompts
have to be copied from the function package into the stack's bucket, so ``deploy.app.handler``
does both on behalf of ``template.yaml``. Only boto3 (in the Lambda runtime) is needed.
"""
