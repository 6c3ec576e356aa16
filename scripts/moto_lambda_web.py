"""moto_server with a loopback layer for the Lambda Web API, which moto 5.2.5 does not serve.

Runs moto's own server (same arguments as `moto_server`) with one WSGI layer in front of moto's application,
in the same process: requests to the Lambda Web API's routes (`/2025-03-07/...`, signed for `lambda`) are
answered here, everything else goes to moto unchanged. Started by scripts/moto-start.sh (tests, demo) and by
benches/support/moto.rs, so every moto the project runs has it; see docs/emulator.md.

Wire shapes: botocore's service model `lambda-web` 2025-03-07 (in the .venv's botocore), which is
the AWS Lambda Web API Reference (https://docs.aws.amazon.com/lambda/latest/lambda-web/API_Operations.html):
restJson1, timestamps in ISO 8601, errors as `x-amzn-ErrorType` plus a JSON `message` with the status the model
gives each error (AccessDeniedException 403, ResourceNotFoundException 404, ValidationException 400).

What it keeps, per (account, region): Web Functions, their revisions and endpoints, as created through the API
(CreateWebFunction, CreateWebFunctionRevision, CreateWebFunctionEndpoint). It answers the reads orgscan makes
(ListWebFunctions, ListWebFunctionEndpoints, GetWebFunctionRevision, ListTags) and GetWebFunction and
ListWebFunctionRevisions; any other Lambda Web route is `UnknownOperationException` (404). Resources are created
Active at once (AWS creates them asynchronously, Pending first).

Accounts come from moto itself (`moto.iam.models.get_account_id_from`, the same lookup moto uses for its own
services: keys issued by AssumeRole act in the role's account). `POST /moto-api/reset` clears this state too.
Once `POST /moto-api/reset-auth` turned moto's IAM enforcement on, each request is checked against the
caller's identity policies with moto's own evaluator (moto.iam.access_control), action `lambda:<Operation>`
(Service Authorization Reference, AWS Lambda: the Lambda Web actions carry the operation names) and resource
the function's ARN (`*` for ListWebFunctions); the signature is not re-checked.
"""

import json
import re
import sys
import threading
import uuid
from datetime import datetime, timezone
from urllib.parse import unquote

import moto.server as moto_server

PREFIX = "/2025-03-07/"
# FunctionName and RuntimeConfig.runtime constraints (botocore lambda-web model).
RUNTIME = re.compile(r"^[a-z][a-z0-9]*(\.[a-z0-9]+)*$")
MAX_RESULTS = 50

_lock = threading.Lock()
# (account, region) -> name -> function
_state = {}
# pagination token -> offset (tokens are UUIDs, the model's NextToken pattern `[a-f0-9-]{36}`)
_tokens = {}


def _now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ApiError(Exception):
    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _not_found(kind, rid):
    return ApiError(404, "ResourceNotFoundException", f"{kind} not found: {rid}", resourceId=rid, resourceType=kind)


def _caller(environ):
    """(access key, region) from the SigV4 Authorization header, or None if it is not signed for lambda."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = re.search(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/aws4_request", auth)
    if not m or m.group(3) != "lambda":
        return None
    return m.group(1), m.group(2)


def _arn(account, region, name):
    return f"arn:aws:lambda:{region}:{account}:web-function/{name}"


def _function_name(raw):
    """A FunctionName path parameter: a name or the function's ARN."""
    name = unquote(raw)
    if name.startswith("arn:"):
        name = name.split(":web-function/", 1)[-1].split("/", 1)[0]
    return name


def _summary(f):
    return {k: f[k] for k in ("functionName", "functionArn", "state", "stateReason", "createdAt", "updatedAt")}


def _revision_summary(r):
    return {k: r[k] for k in ("revisionArn", "revisionId", "state", "stateReason", "createdAt")}


def _page(items, body):
    limit = body.get("maxResults") or MAX_RESULTS
    if not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
        raise ApiError(400, "ValidationException", f"maxResults must be between 1 and {MAX_RESULTS}")
    start = 0
    token = body.get("nextToken")
    if token is not None:
        if token not in _tokens:
            raise ApiError(400, "ValidationException", "Invalid nextToken")
        start = _tokens.pop(token)
    page = items[start : start + limit]
    next_token = None
    if start + limit < len(items):
        next_token = str(uuid.uuid4())
        _tokens[next_token] = start + limit
    return page, next_token


def _new_revision(account, region, f, cfg):
    build = cfg.get("buildConfig") or {}
    service = cfg.get("serviceConfig") or {}
    runtime = (build.get("runtimeConfig") or {}).get("runtime")
    if not build.get("codeConfig") or not isinstance(runtime, str) or not RUNTIME.match(runtime) or len(runtime) > 30:
        raise ApiError(400, "ValidationException", "buildConfig.codeConfig and a valid buildConfig.runtimeConfig.runtime are required")
    if not service.get("executionRoleArn"):
        raise ApiError(400, "ValidationException", "serviceConfig.executionRoleArn is required")
    rid = uuid.uuid4().hex[:12]
    r = {
        "functionArn": f["functionArn"],
        "revisionArn": f"{f['functionArn']}/revision/{rid}",
        "revisionId": rid,
        "buildConfig": build,
        "serviceConfig": service,
        "state": "Active",
        "stateReason": "The revision is ready.",
        "createdAt": _now(),
    }
    for k in ("description", "kmsKeyArn"):
        if cfg.get(k):
            r[k] = cfg[k]
    f["revisions"][rid] = r
    f["order"].append(rid)
    # Endpoints in LatestRevision mode route all traffic to a new revision once it is Active ("Deployment
    # patterns", Lambda Developer Guide).
    for e in f["endpoints"].values():
        if e["autoDeploymentMode"] == "LatestRevision":
            e["revisionWeights"] = [{"revisionId": rid, "weight": 100}]
    return r


def _new_endpoint(account, region, f, cfg):
    name = cfg.get("endpointName")
    if not name or not cfg.get("endpointType") or not cfg.get("authType"):
        raise ApiError(400, "ValidationException", "endpointName, endpointType and authType are required")
    if name in f["endpoints"]:
        raise ApiError(409, "ConflictException", f"Endpoint already exists: {name}")
    mode = cfg.get("autoDeploymentMode") or "LatestRevision"
    weights = cfg.get("revisionWeights") or []
    for w in weights:
        if w.get("revisionId") not in f["revisions"]:
            raise _not_found("Revision", str(w.get("revisionId")))
    if not weights and mode == "LatestRevision" and f["order"]:
        weights = [{"revisionId": f["order"][-1], "weight": 100}]
    now = _now()
    e = {
        "functionArn": f["functionArn"],
        "endpointArn": f"{f['functionArn']}/endpoint/{name}",
        "endpointName": name,
        "endpointType": cfg["endpointType"],
        "domainName": f"{name.lower().replace('_', '-')}-{uuid.uuid4().hex[:8]}.lambda-web.{region}.on.aws",
        "authType": cfg["authType"],
        "autoDeploymentMode": mode,
        "revisionWeights": weights,
        "regions": cfg.get("regions") or [region],
        "state": "Active",
        "stateReason": "The endpoint is ready.",
        "updateStatus": "Successful",
        "createdAt": now,
        "updatedAt": now,
    }
    if cfg.get("description"):
        e["description"] = cfg["description"]
    f["endpoints"][name] = e
    return e


def _endpoint_summary(e):
    return {k: v for k, v in e.items() if k != "functionArn"}


# (method, path pattern, operation)
ROUTES = [
    ("PUT", r"web-functions", "CreateWebFunction"),
    ("POST", r"web-functions", "ListWebFunctions"),
    ("GET", r"web-functions/([^/]+)", "GetWebFunction"),
    ("POST", r"web-functions/([^/]+)/revisions", "CreateWebFunctionRevision"),
    ("POST", r"web-functions/([^/]+)/list-revisions", "ListWebFunctionRevisions"),
    ("GET", r"web-functions/([^/]+)/revisions/([^/]+)", "GetWebFunctionRevision"),
    ("PUT", r"web-functions/([^/]+)/endpoints", "CreateWebFunctionEndpoint"),
    ("POST", r"web-functions/([^/]+)/list-endpoints", "ListWebFunctionEndpoints"),
    ("GET", r"tags/(.+)", "ListTags"),
]


def _route(method, path):
    rest = path[len(PREFIX) :]
    for m, pattern, op in ROUTES:
        if m == method:
            found = re.fullmatch(pattern, rest)
            if found:
                return op, found.groups()
    return None, ()


def _authorize(environ, account, op, resource, body_bytes):
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequest

    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
    headers["Authorization"] = environ.get("HTTP_AUTHORIZATION", "")
    try:
        IAMRequest(
            account_id=account,
            method=environ["REQUEST_METHOD"],
            path=environ.get("PATH_INFO", ""),
            data={},
            body=body_bytes,
            headers=headers,
            action=op,
        ).check_action_permitted(resource)
    except Exception as e:  # moto's AccessDeniedError and the invalid-key errors
        code = getattr(e, "error_type", "AccessDeniedException")
        if code == "AccessDenied":
            code = "AccessDeniedException"
        raise ApiError(getattr(e, "code", 403) or 403, code, getattr(e, "message", str(e))) from None


def _handle(op, args, account, region, body):
    key = (account, region)
    fns = _state.setdefault(key, {})

    def function(raw):
        name = _function_name(raw)
        if name not in fns:
            raise _not_found("WebFunction", name)
        return fns[name]

    if op == "CreateWebFunction":
        name = body.get("functionName")
        if not isinstance(name, str) or not 1 <= len(name) <= 64:
            raise ApiError(400, "ValidationException", "functionName is required (1 to 64 characters)")
        if name in fns:
            raise ApiError(409, "ConflictException", f"Web function already exists: {name}")
        now = _now()
        f = {
            "functionName": name,
            "functionArn": _arn(account, region, name),
            "state": "Active",
            "stateReason": "The web function is ready.",
            "createdAt": now,
            "updatedAt": now,
            "revisions": {},
            "order": [],
            "endpoints": {},
            "tags": body.get("tags") or {},
        }
        out = _summary(f)
        if body.get("revisionConfig"):
            out["revision"] = _revision_summary(_new_revision(account, region, f, body["revisionConfig"]))
        if body.get("endpointConfig"):
            out["endpoint"] = _endpoint_summary(_new_endpoint(account, region, f, body["endpointConfig"]))
        fns[name] = f
        if f["tags"]:
            out["tags"] = f["tags"]
        return 202, out
    if op == "ListWebFunctions":
        items = [_summary(fns[n]) for n in sorted(fns)]
        page, token = _page(items, body)
        return 200, {"functions": page, **({"nextToken": token} if token else {})}
    if op == "GetWebFunction":
        return 200, _summary(function(args[0]))
    if op == "CreateWebFunctionRevision":
        return 202, {k: v for k, v in _new_revision(account, region, function(args[0]), body).items()}
    if op == "ListWebFunctionRevisions":
        f = function(args[0])
        page, token = _page([_revision_summary(f["revisions"][r]) for r in f["order"]], body)
        return 200, {"revisions": page, **({"nextToken": token} if token else {})}
    if op == "GetWebFunctionRevision":
        f = function(args[0])
        rid = unquote(args[1]).rsplit("/revision/", 1)[-1]
        if rid not in f["revisions"]:
            raise _not_found("Revision", rid)
        return 200, f["revisions"][rid]
    if op == "CreateWebFunctionEndpoint":
        e = _new_endpoint(account, region, function(args[0]), {**body})
        return 202, {**e, "regionalEndpoints": {}}
    if op == "ListWebFunctionEndpoints":
        f = function(args[0])
        page, token = _page([_endpoint_summary(f["endpoints"][n]) for n in sorted(f["endpoints"])], body)
        return 200, {"endpoints": page, **({"nextToken": token} if token else {})}
    if op == "ListTags":
        return 200, {"tags": function(args[0])["tags"]}
    raise ApiError(404, "UnknownOperationException", "Unknown operation")


def _respond(start_response, status, payload, error_type=None):
    reasons = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
    body = json.dumps(payload).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    start_response(f"{status} {reasons.get(status, 'Error')}", headers)
    return [body]


def layer(environ, start_response, moto_app):
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    if path == "/moto-api/reset" and method == "POST":
        with _lock:
            _state.clear()
            _tokens.clear()
        return moto_app(environ, start_response)
    caller = _caller(environ) if path.startswith(PREFIX) else None
    if caller is None:
        return moto_app(environ, start_response)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    from moto.iam.models import get_account_id_from

    access_key, region = caller
    account = get_account_id_from(access_key)
    op, args = _route(method, path)
    try:
        if op is None:
            raise ApiError(404, "UnknownOperationException", f"Unknown operation {method} {path}")
        body = json.loads(raw) if raw.strip() else {}
        resource = "*" if op in ("ListWebFunctions", "CreateWebFunction") else _arn(account, region, _function_name(args[0]))
        _authorize(environ, account, op, resource, raw)
        with _lock:
            status, out = _handle(op, args, account, region, body)
        return _respond(start_response, status, out)
    except ApiError as e:
        return _respond(start_response, e.status, {"message": e.message, **e.extra}, e.code)
    except (ValueError, TypeError, AttributeError) as e:
        return _respond(start_response, 400, {"message": f"Invalid request: {e}"}, "ValidationException")


class LayeredApplication(moto_server.DomainDispatcherApplication):
    def __call__(self, environ, start_response):
        return layer(environ, start_response, super().__call__)


if __name__ == "__main__":
    moto_server.DomainDispatcherApplication = LayeredApplication
    sys.exit(moto_server.main())
