"""Queries and mutations of the members area."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import check_lengths, user_error
from api.members.types import Member, MemberInput, MemberPayload
from api.permissions import CanReadMember, IsStaff, require
from domain.errors import DomainError
from services import catalog


@strawberry.type
class Query:
    @strawberry.field(description="A member with its wallets (staff, or the member itself).")
    async def member(self, info: Info, id: strawberry.ID) -> Member | None:
        require(CanReadMember, info, id=id)  # as permission_classes would, without its per-field wrapper
        read = await info.context.loaders.member_with_wallets(str(id))
        return Member.of(*read) if read is not None else None


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsStaff], description="M-1: create or update a member; a referrer cycle is refused.")
    async def upsert_member(self, info: Info, input: MemberInput) -> MemberPayload:
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
        return MemberPayload(member=Member.of(row, context=info.context), errors=[])
