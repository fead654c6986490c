"""One source of plain definitions for every page: each term a page prints has its one line, in the page's
glossary ("Words used here") and its tooltips, and no term is defined twice."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from model.present.glossary import (
    GLOSSARY,
    MORE_TERMS,
    PAGE_TERMS,
    WORDS,
    explain,
    explained,
    page_glossary,
    terms_used,
)

VIEWS = Path(__file__).resolve().parents[1] / "dashboard" / "views"


def page_strings(page: str) -> str:
    """Every string the page file writes (f-strings' fixed parts included), its docstrings and comments left out."""
    tree = ast.parse((VIEWS / f"{page}_page.py").read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return "\n".join(node.value for node in ast.walk(tree)
                     if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings)


def test_every_term_is_defined_once_in_one_plain_line():
    assert not set(GLOSSARY) & set(MORE_TERMS)  # one definition per term
    for term, line in {**GLOSSARY, **MORE_TERMS}.items():
        assert line.endswith(".") and "\n" not in line and 40 < len(line) < 200, term
    for page, terms in PAGE_TERMS.items():
        assert len(set(terms)) == len(terms), page
        assert all(explain(term) for term in terms)  # KeyError for a term listed but not defined
    assert set(WORDS.values()) <= set(GLOSSARY) | set(MORE_TERMS)
    assert page_glossary("diagnose") == GLOSSARY
    with pytest.raises(KeyError):
        explain("Kendall")


def test_the_reviews_unexplained_words_have_their_line():
    """The browser review found "AUROC", "SSIM", "(Spearman)", "Macro F1" and "deletion AUC" with no help."""
    found = terms_used("held-out source | images | AUROC | unusual | out of scope; SSIM; Mean agreement between "
                       "Grad-CAM, Grad-CAM++ (Spearman); Macro F1; Grad-CAM deletion AUC (lower is better)")
    assert {"AUROC of the scope check", "SSIM", "Spearman", "Macro F1", "Deletion / insertion AUC", "Grad-CAM",
            "Grad-CAM++", "Mean agreement between methods", "Held-out source", "Out of scope"} <= found
    assert "0.5" in explain("AUROC of the scope check") and "cannot tell them apart" in explain("AUROC of the scope check")
    assert terms_used("Grad-CAM++ only") == {"Grad-CAM++"}  # a longer name is not its prefix
    assert terms_used("AUCs, macro-average") == set()  # whole words only
    tooltip = explained("SSIM", "Spearman")
    assert tooltip == f"**SSIM**: {explain('SSIM')}  \n**Spearman**: {explain('Spearman')}"


@pytest.mark.parametrize("page", sorted(PAGE_TERMS))
def test_each_word_a_page_file_prints_is_in_its_glossary(page):
    """The captions, labels and table headers written in the page file itself: a word there whose term the
    page's glossary lacks fails here (the tables the core builds are checked on the drawn pages)."""
    missing = terms_used(page_strings(page)) - set(PAGE_TERMS[page])
    assert not missing, f"{page} prints words of {sorted(missing)}: add them to PAGE_TERMS['{page}']"
