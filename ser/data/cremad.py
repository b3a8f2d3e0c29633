"""CREMA-D as distributed: the folder layout, the file names and the CSV headers. The corpus reader
and the demo corpus's writer both use these, so a layout detail is written once."""

from __future__ import annotations

AUDIO_DIR = "AudioWAV"  # ACTOR_SENTENCE_EMOTION_LEVEL.wav
DEMOGRAPHICS = "VideoDemographics.csv"
SENTENCE_LIST = "SentenceFilenames.csv"
RESULTS_DIR = "processedResults"
VOTES = f"{RESULTS_DIR}/tabulatedVotes.csv"
SUMMARY = f"{RESULTS_DIR}/summaryTable.csv"
SYNTHETIC_MARKER = "SYNTHETIC.json"  # written by ser.demo: the folder holds the synthetic demo corpus

TABULATED_HEADER = [
    "", "A", "D", "F", "H", "N", "S", "fileName", "numResponses", "agreement", "emoVote",
    "meanEmoResp", "meanAngerResp", "meanDisgustResp", "meanFearResp", "meanHappyResp",
    "meanNeutralResp", "meanSadResp", "medianEmoResp", "meanEmoRespNorm", "meanAngerRespNorm",
    "meanDisgustRespNorm", "meanFearRespNorm", "meanHappyRespNorm", "meanNeutralRespNorm",
    "meanSadRespNorm", "medianEmoRespNorm",
]
SUMMARY_HEADER = ["", "FileName", "VoiceVote", "VoiceLevel", "FaceVote", "FaceLevel",
                  "MultiModalVote", "MultiModalLevel"]
DEMOGRAPHICS_HEADER = ["ActorID", "Age", "Sex", "Race", "Ethnicity"]
SENTENCE_HEADER = ["Stimulus_Number", "Filename"]
MODALITIES = (1, 2, 3)  # the first digit of a vote id: voice only, face only, audio-visual
