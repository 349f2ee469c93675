"""Appointment times as a caller hears them, in the hospital's time zone: "Thursday
3 December at 9:30 AM" / "12月3日星期四上午9点30分". Written out for the ear (no ISO
dates, no 24-hour clock, which espeak-ng reads as numbers)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")
ZH_WEEKDAYS = "一二三四五六日"


def when(moment: dt.datetime, lang: str, zone: dt.tzinfo = ZONE) -> str:
    local = moment.astimezone(zone)
    if lang == "zh-CN":
        hour = local.hour
        part = "上午" if hour < 12 else "中午" if hour == 12 else "下午" if hour < 18 else "晚上"
        shown = hour if hour <= 12 else hour - 12
        minutes = f"{local.minute}分" if local.minute else ""
        return (f"{local.month}月{local.day}日星期{ZH_WEEKDAYS[local.weekday()]}"
                f"{part}{shown}点{minutes}")
    hour = local.hour % 12 or 12
    clock = f"{hour}:{local.minute:02d}" if local.minute else f"{hour}"
    return f"{local:%A} {local.day} {local:%B} at {clock} {'AM' if local.hour < 12 else 'PM'}"
