"""Stand-ins for the AWS services the Lambdas use: Chime SDK Voice, Lambda Invoke, DynamoDB
Streams; the SAM template reader."""
