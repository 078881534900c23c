"""The trial page's own style: the consent findings box, the audit trail's filter and pager."""

from __future__ import annotations

#: Served as /trials/trial.css (the pages' policy refuses inline style).
TRIAL_CSS = """\
.findings { border: 2px solid #cf222e; background: #ffebe9; border-radius: 6px;
  padding: .6rem 1rem; margin: 1rem 0; }
.findings h3 { margin: 0 0 .4rem; color: #a40e26; }
.findings .counts { display: flex; flex-wrap: wrap; gap: .6rem; list-style: none; padding: 0;
  margin: .4rem 0; }
.findings .counts li { background: #fff; border: 1px solid #cf222e; border-radius: 6px;
  padding: .3rem .7rem; }
.findings .counts b { font-size: 1.2rem; margin-right: .3rem; }
.findings table { background: #fff; }
.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; margin: .6rem 0; }
.filters label { display: flex; flex-direction: column; font-size: 13px; }
.pager a { font-weight: 600; }
#trail-count { font-weight: 600; }
@media print {
  .filters, .pager, .site-header, .site-footer, .skip-link { display: none; }
  .findings { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
}
"""
