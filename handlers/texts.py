"""The account's standing texts (help, welcome, fallback). Flow texts live beside their flows."""

MENU_LINES = (
    "您可以回复：\n"
    "1 志愿者报名\n"
    "2 优抚对象登记\n"
    "3 提交求助\n"
    "4 查询进度\n"
    "5 政策咨询\n"
    "也可以点击下方菜单。"
)

WELCOME = (
    "您好，欢迎关注双拥助手！\n"
    "我们为志愿者、优抚对象和军属提供报名、登记、求助和政策咨询服务。\n"
) + MENU_LINES

HELP = "双拥助手使用说明\n" + MENU_LINES + "\n回复“帮助”可随时查看本说明。"

FALLBACK = "抱歉，我暂时没看懂您的意思。\n" + MENU_LINES

NON_TEXT = "已收到，谢谢您！目前我只能看懂文字。\n" + MENU_LINES

BUSY = "系统繁忙，请稍后再试。"
