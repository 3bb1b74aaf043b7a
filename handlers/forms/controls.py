"""Inside a form, what a message means besides an answer: 取消, 返回, 修改, 人工, 帮助 or 等一下,
in the words people use ("不填了", "上一个填错了", "我要改一下", "找个工作人员").

`control_of` is the one place that decides: a table of plain command phrases first, then
the intent matcher (handlers.intents, when the package is present) with a stricter bar.
"""

from __future__ import annotations

from handlers.fields import normalize

CONTROLS = frozenset({"cancel", "back", "edit", "person", "help"})
LONGEST_COMMAND = 16  # a longer message is an answer, whatever words it contains
# The matcher's "confident" is tuned for choosing a flow, where a doubt brings a question back.
# Inside a form a wrong command costs more (取消 drops what was typed, 人工 ends the form), so a
# higher score is needed; in a story or a comment ("工作人员很耐心", "帮助很大") almost the
# very words of an example.
SURE = 0.5
SURE_IN_PROSE = 0.95

PHRASES: dict[str, tuple[str, ...]] = {
    "cancel": ("取消", "退出", "不填了", "不想填了", "不想填", "不想弄了", "不弄了", "不办了", "算了", "不报了",
               "不要了", "先不填了", "结束", "停止", "不登记了", "取消吧", "算了吧"),
    "back": ("返回", "上一步", "返回上一步", "回到上一步", "退回", "上一个", "回上一步", "上一题",
             "上一个填错了", "上一步填错了"),
    "edit": ("修改", "改", "改一下", "我要修改", "我要改", "要修改", "修改一下", "改改", "想改一下", "我想改一下",
             "重新填", "我要改一下", "改信息", "修改信息", "修改内容", "能改吗", "可以改吗"),
    "person": ("人工", "转人工", "人工服务", "人工客服", "找人", "找工作人员", "工作人员", "真人", "客服",
               "找个工作人员", "找个人", "帮我找个人", "叫人帮我", "我要找人", "我要人工", "有人吗"),
    "help": ("帮助", "help", "?", "？", "菜单", "怎么填", "不会填", "怎么弄", "看不懂", "不懂", "不明白",
             "这是什么意思", "什么意思", "怎么办", "这个是什么意思", "是什么意思", "不知道", "不清楚", "不太懂"),
    # Not now, not never: someone fetching the ID card or asking a grandchild (phrases only).
    "later": ("等会再弄", "等会儿再弄", "等会再填", "等会儿再填", "等一下", "等一会", "等一会儿", "等等", "稍等",
              "待会", "待会儿", "待会再填", "晚点再填", "回头再填", "回头再弄", "一会再填", "一会儿再填",
              "我去拿身份证", "我找一下身份证", "我去找身份证"),
}
_BY_PHRASE = {phrase: name for name, phrases in PHRASES.items() for phrase in phrases}
_POLITE = "吧啊呀呢哦噢嘛啦了"  # 语气词 at the end: "算了吧", "我要改一下啊"


def _intents():
    try:
        from handlers import intents  # built beside this package; absent in older trees
    except ImportError:
        return None
    return intents if hasattr(intents, "classify") else None


def control_of(text: str, *, prose: bool = False) -> str | None:
    """"cancel", "back", "edit", "person", "help", "later", or None when the text is no command.
    `prose`: the question takes free sentences, where command words also occur as content."""
    word = normalize(text)
    if not word or len(word) > LONGEST_COMMAND:
        return None
    plain = word.rstrip(_POLITE)
    for candidate in (word, plain, word.lstrip("我"), plain.lstrip("我")):
        if candidate in _BY_PHRASE:
            return _BY_PHRASE[candidate]
    intents = _intents()
    if intents is not None:
        match = intents.classify(word, among=CONTROLS)
        if match is not None and match.confident and match.score >= (SURE_IN_PROSE if prose else SURE):
            return match.intent
    return None
