"""The bench's throughput window: a pure function of the samples it scraped."""

from __future__ import annotations

import pytest

from consumer.bench import BenchError, Sample, throughput


def test_the_window_runs_to_the_end_of_the_label_work_and_counts_tweets():
    # tweets reach their total at t=3 while labels are still being learned until t=5
    samples = [Sample(0.0, 0, 0.0, 0), Sample(1.0, 100, 1.0, 100), Sample(2.0, 200, 2.0, 200),
               Sample(3.0, 300, 3.0, 300), Sample(4.0, 300, 4.0, 330), Sample(5.0, 300, 5.0, 360),
               Sample(6.0, 300, 6.0, 400), Sample(7.0, 300, 6.1, 400)]
    tp = throughput(samples)
    assert tp.window_s == pytest.approx(4.0)  # from the first sample counting anything to the last still growing
    assert tp.window_events == 200  # tweets only
    assert tp.events_per_s == pytest.approx(50.0)
    assert tp.total_events == 300


def test_a_run_that_counted_nothing_is_an_error():
    with pytest.raises(BenchError, match="counted no events"):
        throughput([Sample(0.0, 0, 0.0, 0), Sample(1.0, 0, 1.0, 0)])


def test_the_window_is_cut_where_the_tweets_end_into_their_phase_and_the_label_tail():
    samples = [Sample(0.0, 0, 0.0, 0), Sample(1.0, 100, 1.0, 100), Sample(2.0, 300, 2.0, 300),
               Sample(3.0, 400, 3.0, 400), Sample(4.0, 400, 4.0, 430), Sample(5.0, 400, 5.0, 460),
               Sample(6.0, 400, 6.0, 500), Sample(7.0, 400, 6.1, 500)]
    tp = throughput(samples)
    assert tp.window_s == pytest.approx(4.0) and tp.events_per_s == pytest.approx(75.0)
    assert tp.tweet_phase_s == pytest.approx(2.0)  # from t=1 to t=3, where the tweets reach their total
    assert tp.tweet_phase_events_per_s == pytest.approx(150.0)
    assert tp.tail_s == pytest.approx(2.0)


def test_a_run_without_a_label_tail_is_all_tweet_phase():
    samples = [Sample(0.0, 0, 0.0, 0), Sample(1.0, 100, 1.0, 100), Sample(2.0, 200, 2.0, 200),
               Sample(3.0, 300, 3.0, 300), Sample(4.0, 300, 3.1, 300)]
    tp = throughput(samples)
    assert tp.tweet_phase_s == pytest.approx(tp.window_s) and tp.tail_s == pytest.approx(0.0)
    assert tp.tweet_phase_events_per_s == pytest.approx(tp.events_per_s)
