"""Property-based requests generated from the served app's OpenAPI schema: none may get a 5xx."""

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from mlsmith.deploy import create_app

from deploy_fixtures import churn_bundle, churn_frame  # noqa: F401  (fixtures)

EXAMPLES = 25


def test_no_generated_request_gets_a_server_error(churn_bundle):
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(churn_bundle, runtime="onnx"))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert sorted(op.label for op in operations) == ["GET /health", "GET /metadata", "GET /metrics", "POST /predict"]
    seen = []
    # GET routes take no input, so only /predict has invalid requests to generate
    plan = [(op, GenerationMode.POSITIVE) for op in operations]
    plan += [(op, GenerationMode.NEGATIVE) for op in operations if op.label == "POST /predict"]
    for operation, mode in plan:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            response = case.call()
            seen.append((operation.label, response.status_code))
            case.validate_response(response, checks=[not_a_server_error])

        check()
    statuses = {status for label, status in seen if label == "POST /predict"}
    assert statuses >= {200, 422}, statuses  # both valid and invalid records were generated
    assert all(status < 500 for _, status in seen)
