"""The Fine-tuning page through AppTest, on a small generated corpus: the form keeps what was set when the page
is left and opened again, and the run shown is kept and named in the URL."""


from apptest import open_page, open_url
from ser.runs import create_run, update_run

OTHER = "another hub id or a local folder…"


def test_finetune_page_without_runs(monkeypatch, small_demo):
    app = open_page(monkeypatch, "app_pages/finetune.py", small_demo)
    assert app.title[0].value.startswith("Fine-tuning wav2vec2")
    assert any("No fine-tuning run yet" in i.value for i in app.info)
    app.selectbox(key="ft_model_choice").set_value(OTHER)
    app.text_input(key="ft_model_custom").input("")
    app.button(key="ft_start").click().run()
    assert not app.exception
    assert any("No model" in e.value for e in app.error)


def test_the_form_keeps_what_was_set_after_a_visit_to_another_page(monkeypatch, small_demo):
    app = open_page(monkeypatch, "app_pages/finetune.py", small_demo)
    app.selectbox(key="ft_model_choice").set_value(OTHER)
    app.text_input(key="ft_model_custom").input("")
    app.number_input(key="ft_epochs").set_value(3)
    app.selectbox(key="ft_scheduler").set_value("cosine")
    app.toggle(key="ft_search").set_value(True)
    app.button(key="ft_start").click().run()  # refused (no model): the form's values are what the user set
    app.switch_page("app_pages/overview.py").run()
    app.switch_page("app_pages/finetune.py").run()
    assert not app.exception, app.exception
    assert app.selectbox(key="ft_model_choice").value == OTHER
    assert app.number_input(key="ft_epochs").value == 3
    assert app.selectbox(key="ft_scheduler").value == "cosine"
    assert app.toggle(key="ft_search").value is True


def failed_run(model: str, day: int):
    run = create_run("wav2vec2", {"model": model, "learning_rate": 1e-4, "epochs": 10, "split": "actor"},
                     {"name": "demo", "synthetic": True}, run_id=f"wav2vec2-202501{day:02d}-120000-abcd")
    return update_run(run, status="failed", error=f"{model} could not be had", created=f"2025-01-{day:02d}T12:00:00")


def test_the_run_shown_is_kept_and_a_shared_url_opens_it(monkeypatch, small_demo):
    older, newer = failed_run("model-a", day=1), failed_run("model-b", day=2)
    app = open_page(monkeypatch, "app_pages/finetune.py", small_demo)
    assert app.selectbox(key="ft_open_run").value == newer.run_id
    app.selectbox(key="ft_open_run").set_value(older.run_id).run()
    assert app.query_params["ft_open_run"] == older.run_id
    app.switch_page("app_pages/overview.py").run()
    app.switch_page("app_pages/finetune.py").run()
    assert app.selectbox(key="ft_open_run").value == older.run_id
    assert any("model-a could not be had" in e.value for e in app.error)

    monkeypatch.setenv("SER_DATA", str(small_demo))
    shared = open_url("app_pages/finetune.py", {"ft_open_run": older.run_id})
    assert shared.selectbox(key="ft_open_run").value == older.run_id
    assert any("model-a could not be had" in e.value for e in shared.error)
