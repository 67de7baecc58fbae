"""GraphQL over HTTP's response media types: `application/graphql-response+json` for clients that
accept it (parse and validation failures then answer 400 without `data`), `application/json` for
the others (always 200, as before the spec's watershed)."""

from __future__ import annotations

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _quality(params: list[str]) -> float:
    for p in params:
        name, _, value = p.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def prefers_graphql_response(accept: str | None) -> bool:
    """Whether the Accept header asks for application/graphql-response+json over application/json.
    No Accept header, `*/*` or an equal preference for both keeps application/json unless the
    new type comes first (the spec: a server SHOULD treat a missing Accept as application/json)."""
    best: dict[str, tuple[float, int]] = {}
    for order, part in enumerate((accept or "").split(",")):
        media, *params = part.split(";")
        media = media.strip().lower()
        q = _quality(params)
        if media in (GRAPHQL_RESPONSE, JSON):
            best.setdefault(media, (q, order))
        elif media in ("*/*", "application/*"):
            best.setdefault(JSON, (q, order))
    new, old = best.get(GRAPHQL_RESPONSE), best.get(JSON)
    if new is None or new[0] <= 0:
        return False
    if old is None or old[0] <= 0:
        return True
    return new[0] > old[0] or (new[0] == old[0] and new[1] < old[1])
