"""The shipped models (``models/<task>/P_rec_0.2_Taus_<min>_<max>/*.mat``), installed as
``rate2spike.assets``; README.md here says how they were made. Find them with
``rate2spike.paths.shipped_models()``."""
