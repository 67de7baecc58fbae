"""Prepared operations: the single-order report mutations without the general executor.

A mall's payment callback sends the same document for every order (`reportOrderPaid` with its
input in a variable), and through strawberry and graphql-core that one field costs more CPU than
the rest of the request together: an execution context, eight extensions' hooks, the executor's
field collection and completion, per request. A prepared operation is such a document compiled
once, the first time it is seen: parsed and validated with the schema's own parse options and
rules, its variable definitions kept, its selection set turned into a serializer. A request with
that document then coerces its variables as graphql-core does, converts the input as strawberry
does, calls the field's resolver function (`api/orders/resolvers.py` `PREPARED`), and builds
`data` from the payload along the selection set, using each leaf type's own output coercion.

Only what this path reproduces exactly is compiled; every other document (and a document whose
variables do not coerce, so that nothing ran) goes through the schema as before:

- one operation, a mutation, no fragments, no directives;
- one root field, one of `PREPARED`, its only argument a variable;
- selections of plain fields only (no resolver, permission or field extension), each response
  key once, aliases and `__typename` allowed; object, list, enum and scalar types, no
  interfaces or unions.

What the schema's extensions do to such an operation happens here too: MaskErrors (an
unexpected error is logged through `schema.process_errors`, then masked), OperationMetrics (its
duration and error count). The other extensions do nothing to a mutation over HTTP; a schema
with an extension not listed in `_KNOWN` gets no prepared path at all. An error raised by the
resolver is located at the field as graphql-core locates it; the payload type is non-null, so
`data` is null. A payload that breaks its own type (None in a non-null field, a leaf that does
not coerce) is a bug: it is answered as an unexpected error of the root field (masked, logged),
where graphql-core would null the nearest nullable field.

`REBATE_PREPARED=off` turns the path off (every document through the schema).
"""

from __future__ import annotations

import operator
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    is_leaf_type,
    located_error,
    parse,
    specified_rules,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.pyutils import Undefined
from strawberry.extensions import AddValidationRules, MaskErrors, MaxTokensLimiter, ParserCache, SchemaExtension, ValidationCache
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionResult
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from api.metrics import OperationMetrics, record_operation

Handler = Callable[..., Awaitable[Any]]
Serialize = Callable[[Any], Any]
_KNOWN = (AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache, MaskErrors, OperationMetrics)
"""Extensions whose effect on a mutation over HTTP this module reproduces (or that have none)."""
MAX_CHARS = 2000  # longer documents are never compiled nor cached: a payment callback's is a few hundred characters


class _Broken(Exception):
    """The payload breaks its own GraphQL type."""


@dataclass(frozen=True)
class Prepared:
    key: str  # the root field's response key
    field_node: FieldNode
    operation: OperationDefinitionNode
    graphql_field: Any  # GraphQLField
    field: StrawberryField
    handler: Handler
    serialize: Serialize


class PreparedOperations:
    """The compiled documents of one schema (`lookup`), and their execution (`execute`)."""

    def __init__(self, schema: Any, handlers: Mapping[str, Handler], neutral: tuple[type[SchemaExtension], ...] = (), maxsize: int = 256) -> None:
        self.schema = schema
        self.handlers = dict(handlers)
        extensions = [e if isinstance(e, SchemaExtension) else e() for e in schema.extensions]
        self.enabled = all(isinstance(e, (*_KNOWN, *neutral)) for e in extensions) and not getattr(schema.schema_converter, "_exception_handler_specs", ())
        self.rules = (*specified_rules, *(r for e in extensions if isinstance(e, AddValidationRules) for r in e.validation_rules))
        self.max_tokens = next((e.max_token_count for e in extensions if isinstance(e, MaxTokensLimiter)), None)
        masks = [e for e in extensions if isinstance(e, MaskErrors)]
        self.mask = masks[0] if masks else None
        self._cached: Callable[[str, str | None], Prepared | None] = lru_cache(maxsize=maxsize)(self._compile)

    def lookup(self, query: str, operation_name: str | None) -> Prepared | None:
        """The compiled operation of this document, or None: it goes through the schema. Only a
        short document naming one of the handlers' fields is compiled (and cached, compiled or not)."""
        if not self.enabled or len(query) > MAX_CHARS or not any(name in query for name in self.handlers):
            return None
        return self._cached(query, operation_name)

    def _compile(self, query: str, operation_name: str | None) -> Prepared | None:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError:
            return None
        operation = _single_mutation(document, operation_name)
        if operation is None or validate_document(self.schema._schema, document, self.rules):
            return None
        (node,) = operation.selection_set.selections
        assert isinstance(node, FieldNode)
        handler = self.handlers.get(node.name.value)
        if handler is None or node.directives or len(node.arguments) != 1 or not isinstance(node.arguments[0].value, VariableNode):
            return None
        mutation = self.schema._schema.mutation_type
        graphql_field = mutation.fields[node.name.value]
        field = graphql_field.extensions.get("strawberry-definition")
        serialize = _serializer(graphql_field.type, node.selection_set)
        if not isinstance(field, StrawberryField) or serialize is None:
            return None
        return Prepared((node.alias or node.name).value, node, operation, graphql_field, field, handler, serialize)

    async def execute(self, prepared: Prepared, variables: dict[str, Any] | None, context: Any) -> ExecutionResult | None:
        """The operation's result; None when the variables or the argument do not coerce (nothing
        ran: the schema then answers with its own errors)."""
        coerced = get_variable_values(self.schema._schema, prepared.operation.variable_definitions or (), variables or {})
        if isinstance(coerced, list):
            return None
        try:
            args = get_argument_values(prepared.graphql_field, prepared.field_node, coerced)
            kwargs = convert_arguments(args, prepared.field.arguments, scalar_registry=self.schema.schema_converter.scalar_registry, config=self.schema.config)
        except Exception:
            return None
        start = time.perf_counter()
        try:
            payload = await prepared.handler(context, **kwargs)
            result = ExecutionResult(data={prepared.key: prepared.serialize(payload)}, errors=None)
        except Exception as exc:
            error = located_error(exc, [prepared.field_node], [prepared.key])
            self.schema.process_errors([error])
            if self.mask is not None and self.mask.should_mask_error(error):
                error = self.mask.anonymise_error(error)
            result = ExecutionResult(data=None, errors=[error])
        record_operation(OperationType.MUTATION.value, time.perf_counter() - start, bool(result.errors))
        return result


def _single_mutation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    """The document's one operation when it is a mutation of one root field, without directives."""
    if len(document.definitions) != 1:
        return None
    (operation,) = document.definitions
    if not isinstance(operation, OperationDefinitionNode) or operation.operation is not OperationType.MUTATION or operation.directives:
        return None
    if operation_name is not None and (operation.name is None or operation.name.value != operation_name):
        return None
    if len(operation.selection_set.selections) != 1 or not isinstance(operation.selection_set.selections[0], FieldNode):
        return None
    if any(v.directives for v in operation.variable_definitions or ()):
        return None
    return operation


def _serializer(type_: GraphQLOutputType, selections: SelectionSetNode | None) -> Serialize | None:
    """A function from a resolved value to its response value along the selection set, as
    graphql-core completes it; None when the selections are not all plain fields."""
    if isinstance(type_, GraphQLNonNull):
        inner = _serializer(type_.of_type, selections)
        if inner is None:
            return None

        def non_null(value: Any) -> Any:
            if value is None:
                raise _Broken("None in a non-null field")
            return inner(value)

        return non_null
    if isinstance(type_, GraphQLList):
        item = _serializer(type_.of_type, selections)
        if item is None:
            return None
        return lambda value: None if value is None else [item(v) for v in value]
    if is_leaf_type(type_):
        if selections is not None:
            return None
        coerce = type_.coerce_output_value  # type: ignore[union-attr]

        def leaf(value: Any) -> Any:
            if value is None:
                return None
            out = coerce(value)
            if out is None or out is Undefined:
                raise _Broken(f"{type_} does not coerce {value!r}")
            return out

        return leaf
    if isinstance(type_, GraphQLObjectType) and selections is not None and type_.is_type_of is None:
        return _object(type_, selections)
    return None


def _object(type_: GraphQLObjectType, selections: SelectionSetNode) -> Serialize | None:
    fields: list[tuple[str, Callable[[Any], Any], Serialize]] = []
    for node in selections.selections:
        if not isinstance(node, FieldNode) or node.directives or node.arguments:
            return None
        key = (node.alias or node.name).value
        if key in (k for k, _, _ in fields):
            return None  # the same key twice: graphql-core merges their selections
        if node.name.value == "__typename":
            name = type_.name
            fields.append((key, lambda _source, name=name: name, lambda value: value))
            continue
        graphql_field = type_.fields.get(node.name.value)
        field = graphql_field.extensions.get("strawberry-definition") if graphql_field is not None else None
        if graphql_field is None or not isinstance(field, StrawberryField) or not field.is_basic_field or field.default_resolver is not getattr:
            return None
        serialize = _serializer(graphql_field.type, node.selection_set)
        if serialize is None:
            return None
        fields.append((key, operator.attrgetter(field.python_name), serialize))

    def complete(value: Any) -> Any:
        if value is None:
            return None
        return {key: serialize(get(value)) for key, get, serialize in fields}

    return complete
