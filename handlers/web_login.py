"""`/后台`: a one-time login link to the web console (指挥中心后台), for leaders and
administrators, in a private chat only: the link logs in whoever opens it first."""

from __future__ import annotations

from bot.context import Context
from bot.routing import Role, Router, Scope, UserError
from domain.actor import actor_for
from storage import web_auth

router = Router("web_login")


@router.command(
    "后台",
    role=Role.LEADER,
    scope=Scope.PRIVATE,
    summary="获取指挥中心后台的登录链接",
)
async def web_link(ctx: Context) -> None:
    web = ctx.settings.web
    if not web.enabled:
        ctx.reply("指挥中心后台尚未开启，请联系街道管理员。")
        return
    # The dispatcher let a leader of some grid through; the console's rights are the
    # actor's, asked the same way the console asks them at every page.
    if actor_for(ctx.session, ctx.settings, ctx.event.sender_id) is None:
        raise UserError("抱歉，后台仅限网格长和街道管理员使用。")
    token = web_auth.create_login_token(
        session=ctx.session, contact_id=ctx.event.sender_id, now=ctx.now
    )
    ctx.reply(
        f"指挥中心后台登录链接（{web_auth.TOKEN_MINUTES}分钟内有效，只能用一次，请勿转发）：\n"
        f"{web.login_link(token)}"
    )
