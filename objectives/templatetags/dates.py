"""Template filters writing dates in the one style of the active language (kpiplatform.dates):

{{ d|day }} 4 déc. 2026 · {{ d|day_long }} 4 décembre 2026 · {{ d|month }} décembre 2026
{{ d|quarter }} T4 2026 · {{ d|week }} semaine du 30 nov. 2026 · {{ d|period:"month" }}
{{ when|moment }} 4 déc. 2026 à 13:30 · {{ start|span:end }} 1er oct. – 31 déc. 2026
"""

from django import template

from kpiplatform import dates

register = template.Library()

register.filter("day", dates.day)
register.filter("day_long", dates.day_long)
register.filter("month", dates.month)
register.filter("quarter", dates.quarter)
register.filter("week", dates.week)
register.filter("period", dates.period)
register.filter("moment", dates.moment)
register.filter("span", dates.span)
