"""The Fine-tuning page through AppTest, on a small generated corpus."""



from apptest import open_page


def test_finetune_page_without_runs(monkeypatch, small_demo):
    app = open_page(monkeypatch, "app_pages/finetune.py", small_demo)
    assert app.title[0].value.startswith("Fine-tuning wav2vec2")
    assert any("No fine-tuning run yet" in i.value for i in app.info)
    app.selectbox(key="ft_model_choice").set_value("another hub id or a local folder…")
    app.text_input(key="ft_model_custom").input("")
    app.button(key="ft_start").click().run()
    assert not app.exception
    assert any("No model" in e.value for e in app.error)
