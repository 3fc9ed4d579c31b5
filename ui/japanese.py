"""Streamlit's own fixed English, said in Japanese.

Where Streamlit takes a parameter the pages pass Japanese (`placeholder=`, `select_all=False`). A few
words are built into its browser code with no parameter (「No results」 in a filtered list, the
help icon's 「Help for …」, 「Press Enter to apply」 under a text field, the status 「Running...」, the
file uploader's 「Drag and drop a file here」 and its refusals, the date field's 「Choose date」):
one small script in the page replaces exactly those, and nothing else, as they are drawn. It is
inline, so nothing loads from outside the server.
"""

import json

import streamlit as st

CHOOSE = "選択してください"
CHOOSE_MANY = "選択してください（複数可）"

# (pattern, replacement) for whole text nodes and for the attributes assistive technology reads.
TEXT = [
    (r"^No results$", "該当なし"),
    (r"^Press Enter to apply$", "Enterキーで確定"),
    (r"^Press Enter to submit form$", "Enterキーで送信"),
    (r"^Press (⌘|Ctrl)\+Enter to apply$", "$1+Enterキーで確定"),
    (r"^Press (⌘|Ctrl)\+Enter to submit form$", "$1+Enterキーで送信"),
    (r"^Running\.\.\.$", "処理中…"),
    (r"^Stop$", "中止"),
    (r"^Choose an option$", CHOOSE),
    (r"^Choose options$", CHOOSE_MANY),
    (r"^Drag and drop (a file|files) here$", "ここにファイルをドラッグ＆ドロップ"),
    (r"^(.+) per file$", "1ファイル$1まで"),
    (r"^Upload$", "ファイルを選択"),
    (r"^Add files$", "ファイルを追加"),
    (r"^File must be (.+) or smaller\.$", "ファイルは$1以下にしてください。"),
    (r"^(.+) files are not allowed\.$", "この種類のファイル（$1）は受け付けません。"),
    (r"^Only one file is allowed\.$", "ファイルは1つだけ選んでください。"),
    (r"^Skip to main content$", "本文へ移動"),
    (r"^Choose date, (.+)$", "日付を選択（$1）"),
    (r"^Choose date$", "日付を選択"),
    (
        r"^Use arrow keys to navigate dates\. Enter to select\. Escape to close\.$",
        "矢印キーで日付を移動、Enterキーで選択、Escキーで閉じます。",
    ),
]
ATTRIBUTES = [
    (r"^Help for (.+)$", "$1の説明"),
    (r"^Help$", "説明"),
    (r"^Selectbox options$", "選択肢"),
    (r"^Clear all$", "すべて解除"),
    (r"^Clear value$", "選択を解除"),
    # the date field and its calendar (the month and weekday names follow the browser's language)
    (r"^year, (.+)$", "年、$1"),
    (r"^month, (.+)$", "月、$1"),
    (r"^day, (.+)$", "日、$1"),
    (r"^(\d{1,2}) – [A-Z][a-z]+$", "$1月"),
    (r"^Previous month$", "前の月"),
    (r"^Next month$", "次の月"),
    (r"^Choose date range$", "期間を選択"),
    (r"^(.+) start date$", "$1（開始日）"),
    (r"^(.+) end date$", "$1（終了日）"),
    # what Streamlit's frame, fields, charts and tables tell a screen reader
    (r"^Collapse sidebar$", "サイドバーを閉じる"),
    (r"^Expand sidebar$", "サイドバーを開く"),
    (r"^file upload$", "ファイルを選択"),
    (r"^progress$", "進み具合"),
    (r"^Decrement$", "減らす"),
    (r"^Increment$", "増やす"),
    (r"^Show password$", "入力した文字を表示"),
    (r"^Hide password$", "入力した文字を隠す"),
    (r"^info icon$", "情報"),
    (r"^warning icon$", "注意"),
    (r"^[a-z_]+ icon$", "アイコン"),
    (r"^Download as PNG$", "PNG画像で保存"),
    (r"^Download as SVG$", "SVG画像で保存"),
    (r"^Sidebar$", "サイドバー"),
    (r"^App pages$", "ページ一覧"),
    (r"^Main menu$", "メニュー"),
    (r"^Link to heading$", "見出しへのリンク"),
    (r"^Show data$", "データを表示"),
    (r"^Copy Vega-Lite spec$", "グラフの定義をコピー"),
    (r"^Fullscreen$", "全画面表示"),
    (r"^Close fullscreen$", "全画面表示を終了"),
    (r"^Show/hide columns$", "列の表示・非表示"),
    (r"^Search$", "検索"),
    (r"^Download as CSV$", "CSVで保存"),
    (r"^Open$", "開く"),
    (r"^Close$", "閉じる"),
    # the charts (Vega): what each part is, in the chart's own Japanese titles
    (r"^Vega visualization$", "グラフ"),
    (r"^visualization$", "グラフ"),
    (r"^X-axis titled '(.*)' for .+$", "横軸「$1」"),
    (r"^Y-axis titled '(.*)' for .+$", "縦軸「$1」"),
    (r"^X-axis for .+$", "横軸"),
    (r"^Y-axis for .+$", "縦軸"),
    (r"^Title text '(.*)'$", "表題「$1」"),
    (r"^(Symbol|Gradient) legend titled '(.*)' for .+$", "凡例「$2」"),
    (r"^(Symbol|Gradient) legend for .+$", "凡例"),
    (r"^axis$", "軸"),
    (r"^legend$", "凡例"),
    (r"^title$", "表題"),
    (r"^[a-z]+ mark( container)?$", "グラフの要素"),
    (r"^(bar|rect)$", "棒"),
    (r"^(line|rule)$", "線"),
    (r"^(point|symbol)$", "点"),
    (r"^area$", "面"),
    (r"^arc$", "扇形"),
    (r"^text$", "文字"),
]

_SCRIPT = """<script>
(() => {
  if (window.__fundJapanese) return;
  window.__fundJapanese = true;
  const text = %(text)s.map(([p, r]) => [new RegExp(p), r]);
  const attrs = %(attrs)s.map(([p, r]) => [new RegExp(p), r]);
  const NAMES = ["aria-label", "aria-roledescription", "aria-valuetext", "title", "placeholder"];
  const say = (rules, value) => {
    for (const [p, r] of rules) if (p.test(value)) return value.replace(p, r);
    return null;
  };
  const fix = (node) => {
    if (node.nodeType === Node.TEXT_NODE) {
      const to = say(text, node.nodeValue.trim());
      if (to !== null) node.nodeValue = to;
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    for (const el of [node, ...node.querySelectorAll("[aria-label],[aria-roledescription],[aria-valuetext],[title],[placeholder]")]) {
      for (const name of NAMES) {
        const value = el.getAttribute(name);
        const to = value && (say(attrs, value) ?? say(text, value));
        if (to) el.setAttribute(name, to);
      }
    }
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) fix(t);
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "childList") r.addedNodes.forEach(fix);
      else fix(r.target);
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true,
                             attributes: true, attributeFilter: NAMES});
  fix(document.body);
})();
</script>"""


def install() -> None:
    """Put the script in the page once per run (it starts once per browser tab)."""
    st.html(
        _SCRIPT % {"text": json.dumps(TEXT), "attrs": json.dumps(ATTRIBUTES)},
        unsafe_allow_javascript=True,
    )
