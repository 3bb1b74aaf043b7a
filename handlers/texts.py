"""The account's standing texts (help, welcome, fallback). Flow texts live beside their flows."""

MENU_LINES = (
    "您可以直接回复下面的文字：\n"
    "志愿者报名 · 活动报名 · 优抚登记\n"
    "提交求助 · 查询进度 · 政策咨询\n"
    "最新通知 · 我的信息 · 联系我们\n"
    "也可以点击下方菜单；需要人工帮助请回复“人工”。"
)

WELCOME = (
    "您好，欢迎关注双拥助手！\n"
    "我们为志愿者、优抚对象和军属提供报名、登记、求助和政策咨询服务。\n"
) + MENU_LINES

HELP = "双拥助手使用说明\n" + MENU_LINES

FALLBACK = "抱歉，我暂时没看懂您的意思。\n" + MENU_LINES

NON_TEXT = "已收到，谢谢您！目前我只能看懂文字。\n" + MENU_LINES

BUSY = "系统繁忙，请稍后再试。"

NOTHING_TO_CANCEL = "现在没有正在办理的事项。\n" + MENU_LINES

