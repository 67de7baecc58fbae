"""Queries and mutations of the members area."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import check_lengths, user_error
from api.members.types import Member, MemberInput, MemberPayload
from api.permissions import CanReadMember, IsStaff
from domain.errors import DomainError
from services import catalog


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[CanReadMember], description="A member with its wallets (staff, or the member itself).")
    async def member(self, info: Info, id: strawberry.ID) -> Member | None:
        row = await info.context.loaders.members_with_wallets.load(str(id))
        return Member.of(row) if row is not None else None


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsStaff], description="M-1: create or update a member; a referrer cycle is refused.")
    async def upsert_member(self, input: MemberInput) -> MemberPayload:
        try:
            check_lengths(level=(input.level, 64), phone=(input.phone, 32), nickname=(input.nickname, 128), avatar=(input.avatar, 512))
            row = await catalog.upsert_member(
                str(input.id),
                referrer=input.referrer,
                level=input.level,
                phone=input.phone,
                nickname=input.nickname,
                avatar=input.avatar,
            )
        except DomainError as exc:
            return MemberPayload(member=None, errors=[user_error(exc)])
        return MemberPayload(member=Member.of(row), errors=[])
