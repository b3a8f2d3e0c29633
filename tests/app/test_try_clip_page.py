"""The Try a clip page through AppTest, on a small generated corpus."""



from ser.learning.baselines import BaselineSpec, run_baseline
from ser.data.corpus import load_corpus
from apptest import open_page


def test_try_clip_page_lists_runs(monkeypatch, small_demo):
    app = open_page(monkeypatch, "app_pages/try_clip.py", small_demo)
    assert any("No finished run yet" in i.value for i in app.info)
    run = run_baseline(BaselineSpec(model="svm", grid="none", jobs=1), load_corpus(small_demo))
    app.run()
    assert not app.exception
    assert app.selectbox(key="try_run").value == run.run_id
