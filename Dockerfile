# syntax=docker/dockerfile:1
# One image for every Laps role; the command picks it:
#   docker build -t laps .
#   docker run --rm laps worker --host 0.0.0.0 --port 50051
#   docker run --rm laps scheduler --host '*' --port 8080 --policy laps --batch 8 --max-queued 256 --model laps-sim --workers w:50051
#   docker run --rm laps operator            (in a pod; the Helm chart charts/laps runs it)
# Multi-platform builds (docker buildx --platform linux/amd64,linux/arm64) compile once per target on the build
# machine's own SDK image: the output is framework-dependent IL plus the target's native libraries.

FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG TARGETARCH
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY protos/ protos/
COPY src/ src/
# -a picks the target's native assets (SkiaSharp) instead of every platform's (17 MB rather than 160 MB);
# English only, as the image has no other culture data (InvariantGlobalization).
RUN dotnet publish src/Laps.Cli -c Release -a $TARGETARCH --self-contained false \
      -p:SatelliteResourceLanguages=en -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./
# The base image's non-root user "app" (APP_UID 1654); the chart's securityContext names the same uid.
USER $APP_UID
# scheduler HTTP, operator metrics and probes, worker gRPC
EXPOSE 8080 8081 50051
ENTRYPOINT ["dotnet", "/app/laps.dll"]
CMD ["--help"]
