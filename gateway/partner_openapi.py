"""The partner API's OpenAPI 3.1 document (`/partner/v1/openapi.json`), built from the same
`Accept` command that validates the input, so the published limits are the enforced ones."""

from __future__ import annotations

import copy
from typing import Any

from service.partner_intake import BATCH_MAX, FIELDS
from workflow.commands import Accept
from workflow.validation import LANDLINE_PATTERN, MOBILE_PATTERN, PLATE_PATTERN

PREFIX = "/partner/v1"


def _order_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    accept = Accept.model_json_schema(ref_template="#/components/schemas/{model}")
    defs: dict[str, Any] = copy.deepcopy(accept.pop("$defs", {}))
    defs.pop("Channel", None)
    properties = {k: v for k, v in accept["properties"].items() if k in FIELDS}
    # the stored forms, as patterns: what a partner should send (separators, +86 and
    # full-width digits are also taken; a pattern cannot say so in a way clients check)
    _pattern(properties, "phone", f"^(?:{MOBILE_PATTERN}|{LANDLINE_PATTERN})$")
    _pattern(properties, "plate", f"^{PLATE_PATTERN}$")
    properties["received_at"] = {
        "type": "string",
        "title": "受理时间 Received at",
        "description": "When the partner received the order: ISO 8601, or '2026-11-23 09:30' "
        "(no offset = Asia/Shanghai). Default: the time of the request. Not in the future.",
        "examples": ["2026-11-23T09:30:00+08:00"],
    }
    order = {
        "type": "object",
        "title": "WorkOrder",
        "description": "A work order. Enum fields also take the 12328 export's Chinese labels.",
        "properties": properties,
        "required": [f for f in accept.get("required", []) if f in FIELDS],
        "additionalProperties": False,
    }
    return order, defs


def _pattern(properties: dict[str, Any], name: str, pattern: str) -> None:
    """Put `pattern` on the string form of property `name` (an optional one is `anyOf`)."""
    prop = properties.get(name)
    if prop is None:
        return
    for form in [prop, *prop.get("anyOf", [])]:
        if form.get("type") == "string":
            form["pattern"] = pattern


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def document() -> dict[str, Any]:
    order, defs = _order_schema()
    accepted = {
        "type": "object",
        "properties": {
            "number": {"type": "string"},
            "ref": {"type": "string"},
            "state": {"type": "string"},
            "deadlines": {"type": "array", "items": {"$ref": "#/components/schemas/Deadline"}},
        },
        "required": ["number", "ref", "state", "deadlines"],
    }
    common = {
        "401": _error("unknown key or disabled partner"),
        "429": _error("over the key's rate limit; see Retry-After"),
    }
    idem = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Grievance engine partner API 合作方接口",
            "version": "1",
            "description": "Push truck drivers' grievances (12328 work orders, platform "
            "complaints, mini-program submissions) and read where they stand. "
            "Authorization: Bearer <API key>.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            f"{PREFIX}/grievances": {
                "post": {
                    "operationId": "pushGrievance",
                    "parameters": [idem],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/WorkOrder"}
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "registered",
                            "content": {"application/json": {"schema": accepted}},
                        },
                        "200": {
                            "description": "already registered (same ref, same order)",
                            "content": {"application/json": {"schema": accepted}},
                        },
                        "409": _error("the ref or Idempotency-Key is known with another order"),
                        "422": _error("bad input: each field's error in `errors`"),
                        **common,
                    },
                }
            },
            f"{PREFIX}/grievances:batch": {
                "post": {
                    "operationId": "pushGrievances",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "orders": {
                                            "type": "array",
                                            "maxItems": BATCH_MAX,
                                            "items": {"$ref": "#/components/schemas/WorkOrder"},
                                        }
                                    },
                                    "required": ["orders"],
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "per-item results (each item atomic on its own)",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"results": {"type": "array"}},
                                    }
                                }
                            },
                        },
                        "422": _error("not a batch"),
                        **common,
                    },
                }
            },
            f"{PREFIX}/grievances/{{ref}}": {
                "get": {
                    "operationId": "grievanceStatus",
                    "parameters": [
                        {
                            "name": "ref",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "stage, state, deadlines, result, satisfaction; "
                            "personal data masked",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "404": _error("no such ref from this partner"),
                        **common,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **defs,
                "WorkOrder": order,
                "Deadline": {
                    "type": "object",
                    "properties": {
                        "target": {"type": "string"},
                        "cycle": {"type": "integer"},
                        "state": {"type": "string"},
                        "due_at": {"type": "string"},
                        "provisional": {"type": "boolean"},
                    },
                },
                "Error": {
                    "type": "object",
                    "properties": {
                        "detail": {"type": "string"},
                        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                    "required": ["detail"],
                },
            },
        },
    }
