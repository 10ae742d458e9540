"""The web console (指挥中心后台): server-rendered pages for the street office and the grid
leaders, on the bot's database.

Login goes through WeChat (`/后台` sends a one-time link); who may see what is
:func:`domain.actor.actor_for`'s answer, asked at every request. The package imports FastAPI
and Jinja2: the bot imports it only when it serves the console (`web.enabled`, `gridbot web`),
so a bot without it starts without paying for them.
"""
