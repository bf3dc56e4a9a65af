"""The shipped models (``models/<task>/P_rec_0.2_Taus_4.0_20.0/*.mat``), installed as
``rate2spike.assets``; README.md here says how they were made. Find them with
``rate2spike.paths.shipped_models()``."""
