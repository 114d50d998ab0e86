"""Studies: a paper's experiment as library code (conditions, runner, scoring, figures).

``figure1``: the paper's Figure 1 (Wyse 2017), four conditions of the classifier net plus
Ulyanov's and VGG-19's rows. ``panels``: spectrogram panels figures (display dB).
"""
