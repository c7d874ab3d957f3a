using Laps.Cli;

return new LapsCommand().Invoke(args);
